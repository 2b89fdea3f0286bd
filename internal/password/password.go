package password

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Iterations is the PBKDF2 cost of new hashes: about 50 ms on one core of the
// reference machine, which a rate-limited login can afford.
const Iterations = 100_000

// ErrFormat reports a stored hash that is not of the form Hash produces.
var ErrFormat = errors.New("password: not a pbkdf2-sha256 hash")

const prefix = "pbkdf2-sha256"

// Hash returns the storable hash of pw with a fresh random salt.
func Hash(pw string) (string, error) {
	return hashWith(pw, Iterations)
}

func hashWith(pw string, iter int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, pw, salt, iter, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%s$%d$%s$%s", prefix, iter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Check reports whether pw matches the stored hash, in time independent of where
// they differ. A malformed hash is an error, not a mismatch.
func Check(stored, pw string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != prefix {
		return false, ErrFormat
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false, ErrFormat
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, ErrFormat
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
