package servertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Browser is a cookie-keeping HTTP client that walks the sign-in pages
// like a user would: it follows gatehouse's redirects, fills the login form,
// answers the consent page, and stops when gatehouse sends it back to the
// application (any URL outside the server).
type Browser struct {
	Client *http.Client
	base   string
}

// NewBrowser returns a browser for the server at base (its public URL).
func NewBrowser(base string) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{base: base}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), b.base) {
			return http.ErrUseLastResponse // back at the application: stop
		}
		if len(via) > 20 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	return b
}

// Page is an HTML page gatehouse rendered.
type Page struct {
	URL       *url.URL
	Status    int
	Body      string
	Name      string // data-page
	ErrorCode string // data-error-code, if the page shows an error
	CSRF      string
	Flow      string
	// Action is the page's form's action, resolved against its URL as a
	// browser does ("" without a form).
	Action string
}

var (
	rePage  = regexp.MustCompile(`data-page="([^"]*)"`)
	reError = regexp.MustCompile(`data-error-code="([^"]*)"`)
	reCSRF  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	reFlow  = regexp.MustCompile(`name="flow" value="([^"]*)"`)
	reForm  = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

func readPage(resp *http.Response) (*Page, error) {
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	p := &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(raw)}
	for re, dst := range map[*regexp.Regexp]*string{rePage: &p.Name, reError: &p.ErrorCode, reCSRF: &p.CSRF, reFlow: &p.Flow} {
		if m := re.FindStringSubmatch(p.Body); m != nil {
			*dst = htmlUnescape(m[1])
		}
	}
	if m := reForm.FindStringSubmatch(p.Body); m != nil {
		if a, err := p.URL.Parse(htmlUnescape(m[1])); err == nil {
			p.Action = a.String()
		}
	}
	return p, nil
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// Result is where a browser walk ended: a redirect out of gatehouse (back
// to the application), or a page gatehouse rendered and the walk could not
// continue on.
type Result struct {
	Redirect *url.URL // set when gatehouse sent the browser away
	Page     *Page    // the last page otherwise
}

// Get loads url and follows redirects inside gatehouse.
func (b *Browser) Get(u string) (Result, error) {
	resp, err := b.Client.Get(u)
	if err != nil {
		return Result{}, err
	}
	return b.result(resp)
}

// Post submits a form and follows redirects inside gatehouse.
func (b *Browser) Post(u string, form url.Values) (Result, error) {
	resp, err := b.Client.PostForm(u, form)
	if err != nil {
		return Result{}, err
	}
	return b.result(resp)
}

func (b *Browser) result(resp *http.Response) (Result, error) {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return Result{}, err
		}
		return Result{Redirect: loc}, nil
	}
	p, err := readPage(resp)
	return Result{Page: p}, err
}

// Steps say how to answer the pages of a sign-in.
type Steps struct {
	Email, Password string
	// Consent is "allow" (default) or "deny".
	Consent string
}

// Authorize walks an authorization request: it signs in when shown the
// login page, answers the consent page, and returns where it ended. It
// gives up on a login page that shows an error (wrong password) and
// returns that page.
func (b *Browser) Authorize(authURL string, s Steps) (Result, error) {
	res, err := b.Get(authURL)
	for range 5 {
		if err != nil || res.Redirect != nil || res.Page == nil {
			return res, err
		}
		p := res.Page
		switch {
		case p.Name == "login" && p.ErrorCode == "" && p.Status == http.StatusOK:
			res, err = b.Post(p.Action, url.Values{"flow": {p.Flow}, "csrf_token": {p.CSRF}, "email": {s.Email}, "password": {s.Password}})
		case p.Name == "consent" && p.ErrorCode == "":
			decision := s.Consent
			if decision == "" {
				decision = "allow"
			}
			res, err = b.Post(p.Action, url.Values{"flow": {p.Flow}, "csrf_token": {p.CSRF}, "decision": {decision}})
		default:
			return res, nil
		}
	}
	return res, err
}

// Cookie returns the value of a cookie the browser holds for the server.
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
