package ivr

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Catalog tells which prompts exist. Validate uses it to reject a menu that names a
// prompt missing in one of its languages.
type Catalog interface {
	// Has reports whether prompt exists in lang (or in the language-independent set).
	Has(lang, prompt string) bool
}

// CommonDir is the folder of language-independent prompts (beep, music) in a prompt
// tree; a lookup in any language falls back to it.
const CommonDir = "common"

// promptExts are the file name endings of a prompt, in order of preference: WAV (8 or
// 16 kHz mono PCM, or G.711 in a WAV container) and raw G.711.
var promptExts = []string{".wav", ".ul", ".ulaw", ".al", ".alaw"}

// FSCatalog is a [Catalog] over a prompt tree: one folder per language (zh/, en/) plus
// common/, each holding NAME.wav, NAME.ul/NAME.ulaw or NAME.al/NAME.alaw. It is built
// once by [NewCatalog] and is read-only afterwards, so it is safe for concurrent use.
type FSCatalog struct {
	fsys  fs.FS
	files map[string]map[string]string // dir -> prompt name -> path in fsys
}

var _ Catalog = (*FSCatalog)(nil)

// NewCatalog indexes the prompt tree at the root of fsys (for the embedded prompts use
// [EmbeddedCatalog]; for an operator's folder, os.DirFS). Files in the root and deeper
// than one folder are ignored.
func NewCatalog(fsys fs.FS) (*FSCatalog, error) {
	c := &FSCatalog{fsys: fsys, files: map[string]map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.Count(p, "/") >= 1 {
				return fs.SkipDir
			}
			return nil
		}
		dir, file := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" || strings.Contains(dir, "/") {
			return nil
		}
		for _, ext := range promptExts {
			name, ok := strings.CutSuffix(file, ext)
			if !ok || name == "" {
				continue
			}
			m := c.files[dir]
			if m == nil {
				m = map[string]string{}
				c.files[dir] = m
			}
			if _, dup := m[name]; !dup || extRank(p) < extRank(m[name]) {
				m[name] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ivr: reading prompts: %w", err)
	}
	return c, nil
}

// EmbeddedCatalog indexes the prompts that ship with the engine ([Prompts]).
func EmbeddedCatalog() (*FSCatalog, error) {
	sub, err := fs.Sub(Prompts, "prompts")
	if err != nil {
		return nil, fmt.Errorf("ivr: embedded prompts: %w", err)
	}
	return NewCatalog(sub)
}

func extRank(p string) int {
	for i, ext := range promptExts {
		if strings.HasSuffix(p, ext) {
			return i
		}
	}
	return len(promptExts)
}

// FS returns the file system the catalog indexes; Path names are relative to it.
func (c *FSCatalog) FS() fs.FS { return c.fsys }

// Has reports whether prompt exists in lang or in common/.
func (c *FSCatalog) Has(lang, prompt string) bool {
	_, ok := c.Path(lang, prompt)
	return ok
}

// Path returns the file of prompt in lang, falling back to common/, and whether there
// is one. When a prompt exists in several encodings, WAV is preferred.
func (c *FSCatalog) Path(lang, prompt string) (string, bool) {
	if p, ok := c.files[lang][prompt]; ok && lang != "" {
		return p, true
	}
	p, ok := c.files[CommonDir][prompt]
	return p, ok
}
