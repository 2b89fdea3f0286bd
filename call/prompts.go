package call

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/hotline12345/hotline/ivr"
	"github.com/hotline12345/hotline/media"
)

// Prompts holds every prompt decoded and encoded once at start-up, so playing one costs
// no decoding or encoding per call.
type Prompts struct {
	clips map[string]*media.Clip // "lang/name", "common/name"
}

var _ ivr.Catalog = (*Prompts)(nil)

// LoadPrompts reads the prompt trees in order (later ones override earlier ones: the
// embedded prompts first, then an operator's folder).
func LoadPrompts(trees ...fs.FS) (*Prompts, error) {
	p := &Prompts{clips: map[string]*media.Clip{}}
	for _, fsys := range trees {
		cat, err := ivr.NewCatalog(fsys)
		if err != nil {
			return nil, err
		}
		err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.Count(name, "/") != 1 {
				return nil
			}
			dir, file := path.Split(name)
			dir = strings.TrimSuffix(dir, "/")
			base := strings.TrimSuffix(file, path.Ext(file))
			best, ok := cat.Path(dir, base)
			if !ok || best != name {
				return nil // another file of the same prompt is preferred
			}
			pcm, err := media.LoadAudioFS(fsys, name)
			if err != nil {
				return fmt.Errorf("prompt %s: %w", name, err)
			}
			p.clips[dir+"/"+base] = media.NewClip(base, pcm)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Get returns the prompt in lang, or the language-independent one.
func (p *Prompts) Get(lang, name string) (*media.Clip, bool) {
	if c, ok := p.clips[lang+"/"+name]; ok {
		return c, true
	}
	c, ok := p.clips[ivr.CommonDir+"/"+name]
	return c, ok
}

// Has implements ivr.Catalog.
func (p *Prompts) Has(lang, name string) bool {
	_, ok := p.Get(lang, name)
	return ok
}

// Len is the number of prompt files loaded.
func (p *Prompts) Len() int { return len(p.clips) }
