export * from "./service.js";
export * from "./authenticator.js";
export * from "./credentials.js";
export * from "./policy.js";
export * from "./scope.js";
export type { IssuedToken } from "./token-issuer.js";
