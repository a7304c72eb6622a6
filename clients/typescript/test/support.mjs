// What the client's tests share: development tokens and fresh user ids. (`eventually` is in
// eventually.mjs, which tests/browser uses too.)

import { SignJWT } from "jose";

let signed = 0;
/** An HS256 token for `sub` signed with `secret`: a distinct one each time, even within a second. */
export function signToken(sub, secret, expiresIn = "10m") {
  signed += 1;
  return new SignJWT({ n: signed })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

let users = 0;
/** A fresh user id per test, so tests never see each other's tasks. */
export function newUser(name) {
  users += 1;
  return `${name}-${users}-${process.pid}`;
}
