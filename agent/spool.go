package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/runner/sandbox"
)

// The spool keeps, for each job the agent holds, what it must still report,
// so that neither a server that is down nor an agent that restarts loses a
// job's log or result. A job's folder, <data>/jobs/<run>-<key hash>-<attempt>,
// holds:
//
//	assignment.json  the job as claimed, without its secrets' values
//	log.jsonl        its log lines, one JSON object a line; line i is line i of the attempt
//	acked            how many of them the server said it stored
//	processes.json   the traces of the processes its running steps started
//	result.json      its result, once it ended
//
// The folder goes once the server has the job's result, or its release, or
// says the job is no longer the agent's.
const (
	assignmentFile = "assignment.json"
	logFile        = "log.jsonl"
	ackedFile      = "acked"
	processesFile  = "processes.json"
	resultFile     = "result.json"
)

// spool is one job's folder. Its methods are safe for concurrent use.
type spool struct {
	dir string

	mu  sync.Mutex
	log *os.File
	// offsets are where each line of log starts, and size where the next
	// one will.
	offsets []int64
	size    int64
	acked   int
}

// plainName is a run id that may name a folder as it is.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_]{1,80}$`)

// spoolName is the folder name of the job ref names.
func spoolName(run, key string, attempt int) string {
	h := sha256.Sum256([]byte(key))
	if !plainName.MatchString(run) {
		r := sha256.Sum256([]byte(run))
		run = hex.EncodeToString(r[:8])
	}
	return fmt.Sprintf("%s-%s-%d", run, hex.EncodeToString(h[:4]), attempt)
}

// createSpool makes the folder of a job just claimed, under root.
func createSpool(root string, asg *runner.Assignment) (*spool, error) {
	dir := filepath.Join(root, spoolName(asg.Run, asg.JobRef.Job, asg.Attempt))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	kept := *asg
	kept.SecretValues = nil
	data, err := json.Marshal(&kept)
	if err == nil {
		err = writeFile(dir, assignmentFile, data, true)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir}
	if s.log, err = os.OpenFile(filepath.Join(dir, logFile), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("spool: %w", err)
	}
	return s, nil
}

// openSpool opens the folder dir that an earlier life of the agent left, and
// returns the job it holds.
func openSpool(dir string) (*spool, *runner.Assignment, error) {
	data, err := os.ReadFile(filepath.Join(dir, assignmentFile))
	if err != nil {
		return nil, nil, err
	}
	asg := &runner.Assignment{}
	if err := json.Unmarshal(data, asg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", assignmentFile, err)
	}
	s := &spool{dir: dir}
	if s.log, err = os.OpenFile(filepath.Join(dir, logFile), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, nil, err
	}
	logData, err := os.ReadFile(s.log.Name())
	if err != nil {
		s.close()
		return nil, nil, err
	}
	for start := 0; ; {
		i := bytes.IndexByte(logData[start:], '\n')
		if i < 0 {
			break
		}
		s.offsets = append(s.offsets, int64(start))
		start += i + 1
		s.size = int64(start)
	}
	// A line the agent was writing as it died is not a line.
	if s.size < int64(len(logData)) {
		if err := s.log.Truncate(s.size); err != nil {
			s.close()
			return nil, nil, err
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, ackedFile)); err == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		s.acked = max(n, 0)
	}
	return s, asg, nil
}

// append adds line at the end of the log.
func (s *spool) append(line runner.LogLine) error {
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return errors.New("spool: closed")
	}
	if _, err := s.log.Write(b); err != nil {
		// A part written would shift every later line: cut it off.
		_ = s.log.Truncate(s.size)
		return err
	}
	s.offsets = append(s.offsets, s.size)
	s.size += int64(len(b))
	return nil
}

// count is how many lines the log holds.
func (s *spool) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.offsets)
}

// unsent is how many lines the server has not said it stored.
func (s *spool) unsent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.offsets)-s.acked, 0)
}

// ackedCount is how many lines the server said it stored.
func (s *spool) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// lines returns the lines from index from on: at most maxLines, and no more
// than maxBytes of them unless the first alone is larger.
func (s *spool) lines(from, maxLines int, maxBytes int64) ([]runner.LogLine, error) {
	s.mu.Lock()
	n := len(s.offsets)
	if from >= n {
		s.mu.Unlock()
		return nil, nil
	}
	end := min(n, from+maxLines)
	stopAt := func(end int) int64 {
		if end < n {
			return s.offsets[end]
		}
		return s.size
	}
	start := s.offsets[from]
	for end > from+1 && stopAt(end)-start > maxBytes {
		end--
	}
	stop, f := stopAt(end), s.log
	s.mu.Unlock()
	if f == nil {
		return nil, errors.New("spool: closed")
	}

	buf := make([]byte, stop-start)
	if _, err := f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("spool: read the log: %w", err)
	}
	out := make([]runner.LogLine, 0, end-from)
	for _, b := range bytes.SplitAfter(buf, []byte("\n")) {
		if len(b) == 0 {
			continue
		}
		var l runner.LogLine
		if err := json.Unmarshal(b, &l); err != nil {
			// Keep its place, so that the lines after it keep their index.
			l = runner.LogLine{Step: -1, Stream: runner.System, Text: "[hookflow] the agent lost a log line"}
		}
		out = append(out, l)
	}
	return out, nil
}

// setAcked records that the server stored n lines.
func (s *spool) setAcked(n int) error {
	s.mu.Lock()
	if s.acked == n {
		s.mu.Unlock()
		return nil
	}
	s.acked = n
	s.mu.Unlock()
	// Not synced: a count lost with the machine only makes the agent send
	// lines again, which the server skips.
	return writeFile(s.dir, ackedFile, []byte(strconv.Itoa(n)+"\n"), false)
}

// writeResult keeps the job's result.
func (s *spool) writeResult(res *runner.Result) error {
	data, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return writeFile(s.dir, resultFile, data, true)
}

// result is the job's result; nil when it did not end.
func (s *spool) result() (*runner.Result, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, resultFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	res := &runner.Result{}
	if err := json.Unmarshal(data, res); err != nil {
		return nil, fmt.Errorf("%s: %w", resultFile, err)
	}
	return res, nil
}

// writeProcesses keeps the traces of the processes that running steps started.
func (s *spool) writeProcesses(traces []sandbox.Trace) error {
	if len(traces) == 0 {
		err := os.Remove(filepath.Join(s.dir, processesFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	data, err := json.Marshal(traces)
	if err != nil {
		return err
	}
	return writeFile(s.dir, processesFile, data, false)
}

// processes are the traces writeProcesses kept last.
func (s *spool) processes() []sandbox.Trace {
	data, err := os.ReadFile(filepath.Join(s.dir, processesFile))
	if err != nil {
		return nil
	}
	var traces []sandbox.Trace
	_ = json.Unmarshal(data, &traces)
	return traces
}

func (s *spool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log != nil {
		_ = s.log.Close()
		s.log = nil
	}
}

// remove deletes the folder; removing it again does nothing.
func (s *spool) remove() error {
	s.close()
	return os.RemoveAll(s.dir)
}

// writeFile replaces dir/name with data at once: a reader, or an agent that
// starts after a crash, finds either the old content or the new; with sync,
// even after a crash of the machine.
func writeFile(dir, name string, data []byte, sync bool) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
