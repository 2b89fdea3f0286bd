// Package password hashes and checks the passwords of agents and supervisors with
// PBKDF2-HMAC-SHA256 (RFC 8018) from the standard library: the string stored is
// "pbkdf2-sha256$<iterations>$<salt base64>$<key base64>", so the cost can be raised
// later without invalidating stored hashes.
package password
