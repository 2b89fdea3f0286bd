package password

import (
	"errors"
	"testing"
)

func TestHashCheck(t *testing.T) {
	h, err := hashWith("lab-12345", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Check(h, "lab-12345"); !ok || err != nil {
		t.Fatalf("right password refused: %v %v", ok, err)
	}
	if ok, _ := Check(h, "lab-12346"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := hashWith("lab-12345", 1000)
	if h == h2 {
		t.Fatal("same salt twice")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$a$b", "pbkdf2-sha256$1000$!!$AAAA", "md5$1$a$b", "pbkdf2-sha256$1000$AAAA$"} {
		if _, err := Check(bad, "x"); !errors.Is(err, ErrFormat) {
			t.Errorf("Check(%q) err = %v, want ErrFormat", bad, err)
		}
	}
}
