// Every route is one of these kinds, by its path; the kind decides its authentication, its rate
// limit and its OpenAPI security (api/plugins/http-guard.ts, api/plugins/openapi-contract.ts).
// Secure by default: a path not listed here is a checkout route (bearer token), so a route added
// anywhere is authenticated and limited without anyone remembering to ask.
//
//   checkout  /v1/…           bearer token (API_AUTH_TOKEN[S]); limited per caller
//   codec     /codec/…        bearer token, checked by the codec routes themselves (CORS first)
//   callback  /klarna/…       the flow's own secret in the URL, checked by the route; limited per source
//   health    /health, /ready, /metrics   open, or bearer with API_HEALTH_AUTH
//   docs      /docs…, /openapi.json  open, or bearer with API_DOCS_AUTH
export type RouteKind = 'checkout' | 'codec' | 'callback' | 'health' | 'docs';

export function routeKind(url: string): RouteKind {
  if (url === '/openapi.json' || url === '/docs' || url.startsWith('/docs/')) return 'docs';
  if (url === '/health' || url === '/ready' || url === '/metrics') return 'health';
  if (url.startsWith('/klarna/')) return 'callback';
  if (url === '/codec' || url.startsWith('/codec/')) return 'codec';
  return 'checkout';
}
