package call

import (
	"context"
	"testing"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
)

func TestEndOrphans(t *testing.T) {
	st, err := store.New(store.NewMemory(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ev := range []event.Event{
		{Type: event.CallCreated, Call: "live", Caller: "1"},
		{Type: event.CallAnswered, Call: "live"},
		{Type: event.CallCreated, Call: "done", Caller: "2"},
		{Type: event.CallEnded, Call: "done", Side: event.SideCaller},
	} {
		if err := st.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewManager(DefaultConfig(), Deps{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if n := m.EndOrphans(); n != 1 {
		t.Fatalf("ended %d orphans, want 1", n)
	}
	rec, _ := st.Calls().Get("live")
	if rec.State != store.StateEnded || rec.Side != event.SideEngine || rec.Cause == "" {
		t.Fatalf("orphan not ended: %+v", rec)
	}
	if st.Calls().Active() != 0 {
		t.Fatalf("active = %d", st.Calls().Active())
	}
	if n := m.EndOrphans(); n != 0 {
		t.Fatalf("second pass ended %d", n)
	}
}

func TestMaskedNumber(t *testing.T) {
	for in, want := range map[string]string{"13812345678": "138****5678", "12345": "12***45", "110": "110", "": ""} {
		if got := Masked(in).LogValue().String(); got != want {
			t.Errorf("Masked(%q) = %q, want %q", in, got, want)
		}
	}
}
