/**
 * A store URL as it can be logged: the password of `user:password@host` URLs and the values
 * of query parameters whose name says credential (`*pass*`, `*token*`, `*secret*`, `*key*`,
 * `*auth*`, `*sig*`, `*cred*`, `*pwd*`) are replaced by `***`.
 */
export function redactUrl(url: string): string {
  // Also for text that quotes a URL (CLI error lines): a URL ends at whitespace or a quote.
  return url
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^/@:\s"]*):[^/@\s"]*@/gi, '$1:***@')
    .replace(/([?&][^=&#\s"]*(?:pass|pwd|token|secret|key|auth|sig|cred)[^=&#\s"]*=)[^&#\s"]*/gi, '$1***');
}
