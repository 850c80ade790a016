// Package api holds the OpenAPI 3.1 description of Twostep's JSON API,
// embedded so that the server can serve it at /openapi.json.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document, as JSON.
//
//go:embed openapi.json
var OpenAPI []byte
