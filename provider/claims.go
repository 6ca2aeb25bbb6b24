package provider

import (
	"github.com/gatehouse/gatehouse/storage"
	"github.com/ory/fosite"
)

// userClaims returns the standard claims of an account that the granted
// scopes release (OIDC Core §5.4): profile → name, given_name, family_name,
// updated_at; email → email, email_verified; phone → phone_number,
// phone_number_verified. Empty values are left out.
func userClaims(u storage.User, scopes fosite.Arguments) map[string]any {
	c := map[string]any{}
	if scopes.Has("profile") {
		for k, v := range map[string]string{"name": u.Name, "given_name": u.GivenName, "family_name": u.FamilyName} {
			if v != "" {
				c[k] = v
			}
		}
		c["updated_at"] = u.UpdatedAt.Unix()
	}
	if scopes.Has("email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if scopes.Has("phone") && u.Phone != "" {
		c["phone_number"] = u.Phone
		c["phone_number_verified"] = u.PhoneVerified
	}
	return c
}
