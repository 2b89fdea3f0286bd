package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline12345/hotline/event"
	"github.com/hotline12345/hotline/store"
)

// runHotline runs the built binary with args (bounded) and returns its output.
func runHotline(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hotlineBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("hotline %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

// TestReportCLI writes a day of events with the store into a data folder, and runs
// hotline report on it while the journal is held open (a live engine's folder, with
// a torn record at its end) and after it is closed.
func TestReportCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := store.OpenJournal(dir, store.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(j, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	t0 := time.Date(2025, 3, 3, 9, 0, 0, 0, loc)
	ctx := context.Background()
	for i, ev := range []event.Event{
		{Type: event.AgentLogin, Agent: "1001", Pool: "primary"},
		{Type: event.AgentState, Agent: "1001", State: "ready"},
		{Type: event.CallCreated, Call: "a"},
		{Type: event.MenuInput, Call: "a", Node: "main", Digits: "1"},
		{Type: event.QueueJoined, Call: "a", Queue: "call-taking"},
		{Type: event.OfferAccepted, Call: "a", Agent: "1001", Queue: "call-taking"},
		{Type: event.QueueLeft, Call: "a", Queue: "call-taking", Reason: "answered", Duration: 10 * time.Second},
		{Type: event.AgentState, Agent: "1001", State: "on-call"},
		{Type: event.QueueJoined, Call: "b", Queue: "call-taking"},
		{Type: event.QueueLeft, Call: "b", Queue: "call-taking", Reason: "abandoned", Duration: 2 * time.Second},
		{Type: event.AgentState, Agent: "1001", State: "wrap-up"},
		{Type: event.AgentState, Agent: "1001", State: "logged-out"},
	} {
		ev.Time = t0.Add(time.Duration(i) * time.Minute)
		if err := st.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	// A record being written: a header with only part of its payload.
	f, err := os.OpenFile(filepath.Join(dir, store.JournalFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte{0, 0, 1, 0, 9, 9, 9, 9, '{'})
	f.Close()

	out, errOut := runHotline(t, "report", "--data", dir, "--from", "2025-03-03", "--to", "2025-03-03", "--format", "csv")
	if !strings.Contains(out, "queue,2025-03-03,2025-03-03,2025-03-03,call-taking,2,1,0.5000,1,1.0000,80,20.0,1,1,") {
		t.Errorf("csv of the live folder:\n%s", out)
	}
	if !strings.Contains(out, "agent,2025-03-03,1001,primary,1,0,0,0,600.0,") || !strings.Contains(out, "menu,2025-03-03,main,1,1") {
		t.Errorf("agent or menu rows missing:\n%s", out)
	}
	if !strings.Contains(errOut, "12 events read, 1 days done") || !strings.Contains(errOut, "incomplete last record") {
		t.Errorf("stderr: %s", errOut)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Stopped folder (the torn tail is dropped on the next open; still there now), HTML
	// to a file, by week.
	html := filepath.Join(t.TempDir(), "r.html")
	runHotline(t, "report", "--data", dir, "--from", "2025-03-01", "--to", "2025-03-09", "--period", "week", "--format", "html", "--out", html)
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="volume-2025-W10"`, `id="service-level-2025-W10"`, `id="answer-rate-2025-W10"`, `id="volume-2025-W09"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	// Errors an operator sees.
	cmd := exec.Command(hotlineBin, "report", "--data", t.TempDir(), "--from", "2025-03-03")
	if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "events.journal") {
		t.Errorf("missing journal: %v %s", err, msg)
	}
	cmd = exec.Command(hotlineBin, "report", "--data", dir, "--from", "2025-13-03")
	if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "--from") {
		t.Errorf("bad date: %v %s", err, msg)
	}
}
