package shell

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"time"
)

// copyBufferSize is the most of a stream held here at a time: output is passed
// on to the step's writers as it comes, never collected.
const copyBufferSize = 32 << 10

// output copies a process's stdout and stderr to the step's writers through
// pipes this package owns. With os/exec's own pipes, Wait would not return
// until every process holding them had exited, so the step's leftover
// processes could not be killed between the shell's exit and the end of the
// output; here the two are separate.
type output struct {
	// child holds the pipes' write ends, which the process inherits; they are
	// closed here once it has started, so that only the step's processes keep
	// the pipes open.
	child []*os.File
	// readers and writers pair each pipe's read end with its destination.
	readers []*os.File
	writers []io.Writer
	// done receives each copying goroutine's write error (or nil).
	done chan error
}

// attachOutput makes the pipes for the step's writers and sets them as cmd's
// stdout and stderr. A nil writer leaves the stream to os/exec, which sends it
// to /dev/null.
func attachOutput(cmd *exec.Cmd, stdout, stderr io.Writer) (*output, error) {
	o := &output{}
	if stdout != nil {
		w, err := o.pipe(stdout)
		if err != nil {
			return nil, err
		}
		cmd.Stdout = w
	}
	switch {
	case stderr == nil:
	case stdout != nil && sameWriter(stdout, stderr):
		// One pipe for both streams keeps their order, and keeps a writer
		// from being used by two goroutines at once.
		cmd.Stderr = cmd.Stdout
	default:
		w, err := o.pipe(stderr)
		if err != nil {
			o.close()
			return nil, err
		}
		cmd.Stderr = w
	}
	o.done = make(chan error, len(o.readers))
	return o, nil
}

// pipe makes a pipe whose output goes to dst and returns its write end.
func (o *output) pipe(dst io.Writer) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	o.readers = append(o.readers, r)
	o.writers = append(o.writers, dst)
	o.child = append(o.child, w)
	return w, nil
}

// start begins copying; call it once the process has started.
func (o *output) start() {
	closeAll(o.child)
	for i, r := range o.readers {
		go func() { o.done <- copyStream(o.writers[i], r) }()
	}
}

// wait waits for the copying to finish: when every process holding the pipes
// has exited. If that takes longer than timeout, the pipes are closed and cut
// reports that output may have been lost. err is the first write error.
func (o *output) wait(timeout time.Duration) (err error, cut bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	expired := timer.C
	for n := len(o.readers); n > 0; {
		select {
		case werr := <-o.done:
			n--
			if err == nil {
				err = werr
			}
		case <-expired:
			// Closing a read end makes its blocked Read return.
			cut, expired = true, nil
			closeAll(o.readers)
		}
	}
	if !cut {
		closeAll(o.readers)
	}
	return err, cut
}

// close releases every pipe; for when the process did not start.
func (o *output) close() {
	closeAll(o.child)
	closeAll(o.readers)
}

// copyStream copies src to dst until src ends or is closed. When dst fails it
// keeps reading and discards, so that a process never blocks on a full pipe
// because the log writer gave up; the first write error is returned.
func copyStream(dst io.Writer, src io.Reader) error {
	buf := make([]byte, copyBufferSize)
	var werr error
	for {
		n, err := src.Read(buf)
		if n > 0 && werr == nil {
			_, werr = dst.Write(buf[:n])
		}
		if err != nil {
			// io.EOF when the last writer closed the pipe, os.ErrClosed when
			// wait gave up on it; neither is the step's fault.
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) && werr == nil {
				werr = err
			}
			return werr
		}
	}
}

// sameWriter reports whether a and b are the same writer. Comparing interfaces
// panics when both hold the same uncomparable type; such writers are taken to
// be different.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
