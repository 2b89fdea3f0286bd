// Package mediatest provides a tiny RTP peer for tests of the packages that use
// media sessions (ivr, call, sip tests): it binds 127.0.0.1 on a free port, sends
// a payload stream paced every 20 ms, sends RFC 4733 digits, and records every
// packet it receives, like net/http/httptest does for HTTP.
package mediatest
