// `stratadb/kits/auth`: ready-made storage for what a login keeps (seeds 000, 003, 004), built
// only on the public Store API: OAuth tokens encrypted at rest, sessions stored by hash, OAuth
// state consumed once, one-time codes with an attempt limit. See docs/kits-auth.md.
export { TokenStore } from './tokens.js';
export type { TokenStoreOptions, TokenOwner, PersistTokenOptions } from './tokens.js';
export { SessionStore } from './sessions.js';
export type { Session, SessionOptions, CreateSessionOptions } from './sessions.js';
export { OAuthStateStore } from './oauth-state.js';
export type { OAuthStateOptions, OAuthStateResult } from './oauth-state.js';
export { OtpStore } from './otp.js';
export type { OtpOptions, OtpResult, IssuedCode } from './otp.js';
