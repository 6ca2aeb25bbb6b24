package provider

import (
	"slices"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/ory/fosite"
)

// userClaims returns the standard claims of an account that the granted
// scopes release (OIDC Core §5.4): profile → name, given_name, family_name,
// updated_at; email → email, email_verified; phone → phone_number,
// phone_number_verified. Empty values are left out. Scopes match exactly
// (case-sensitive, RFC 6749 §3.3; fosite.Arguments.Has folds case).
func userClaims(u storage.User, scopes fosite.Arguments) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, "profile") {
		for k, v := range map[string]string{"name": u.Name, "given_name": u.GivenName, "family_name": u.FamilyName} {
			if v != "" {
				c[k] = v
			}
		}
		c["updated_at"] = u.UpdatedAt.Unix()
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if slices.Contains(scopes, "phone") && u.Phone != "" {
		c["phone_number"] = u.Phone
		c["phone_number_verified"] = u.PhoneVerified
	}
	return c
}
