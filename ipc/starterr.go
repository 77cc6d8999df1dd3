package ipc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// whyNotStarted words a failed start by its real cause. Go reports every
// failure of the child between fork and exec as the program's, so a missing
// working directory reads "fork/exec /usr/bin/python3: no such file or
// directory" (golang/go#20285): the directory and the program are checked
// here, in the order the child uses them.
func whyNotStarted(cmd *exec.Cmd, err error) string {
	name := cmd.Args[0]
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return notInPath(name)
	case errors.Is(err, exec.ErrDot):
		return fmt.Sprintf("program %q was found as %s, in a directory of PATH that is relative to the working directory, "+
			"which Go refuses to run: give its path instead",
			name, cmd.Path)
	}
	if why := dirProblem(cmd.Dir); why != "" {
		return why
	}
	prog := cmd.Path
	if !filepath.IsAbs(prog) && cmd.Dir != "" {
		prog = filepath.Join(cmd.Dir, prog)
	}
	if why := programProblem(prog, err); why != "" {
		return why
	}
	return err.Error()
}

func notInPath(name string) string {
	path := os.Getenv("PATH")
	if path == "" {
		return fmt.Sprintf("program %q was not found: PATH is empty (give the program's path)", name)
	}
	return fmt.Sprintf("program %q was not found in PATH (%s)", name, path)
}

// absPath is p made absolute for messages, or p when that fails.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// dirProblem says why dir cannot be a worker's working directory, or "".
func dirProblem(dir string) string {
	if dir == "" {
		return ""
	}
	where := fmt.Sprintf("working directory %s", absPath(dir))
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return where + " does not exist"
	case errors.Is(err, syscall.ENOTDIR):
		return where + " is not a directory (a part of its path is a file)"
	case errors.Is(err, fs.ErrPermission):
		return where + " cannot be reached: permission denied on a directory of its path"
	case err != nil:
		return fmt.Sprintf("%s cannot be used: %v", where, err)
	case !fi.IsDir():
		return where + " is not a directory"
	}
	if err := canEnter(dir); err != nil {
		return fmt.Sprintf("%s cannot be entered: permission denied (it needs the search, x, permission)", where)
	}
	return ""
}

// programProblem says why prog could not be executed, or "".
func programProblem(prog string, err error) string {
	where := fmt.Sprintf("program %s", absPath(prog))
	fi, statErr := os.Stat(prog)
	switch {
	case errors.Is(statErr, fs.ErrNotExist):
		return where + " does not exist"
	case errors.Is(statErr, syscall.ENOTDIR):
		return where + " does not exist (a part of its path is a file)"
	case errors.Is(statErr, fs.ErrPermission):
		return where + " cannot be reached: permission denied on a directory of its path"
	case statErr == nil && fi.IsDir():
		return where + " is a directory"
	}
	switch {
	case errors.Is(err, syscall.EACCES):
		return where + " is not executable: permission denied (no execute permission, or its file system is mounted noexec)"
	case errors.Is(err, syscall.ENOEXEC):
		return where + " is not a program this system can run (exec format error: a script needs a #! line, a binary may " +
			"be built for another system)"
	case errors.Is(err, syscall.ENOENT):
		if interp := shebang(prog); interp != "" {
			return fmt.Sprintf("%s names an interpreter that does not exist on its #! line: %s", where, interp)
		}
		return where + " needs a loader or library that does not exist (is it built for another system?)"
	case errors.Is(err, syscall.ETXTBSY):
		return where + " is being written to (text file busy)"
	case errors.Is(err, syscall.E2BIG):
		return fmt.Sprintf("%s: its arguments and environment are too long (%v)", where, syscall.E2BIG)
	}
	return ""
}

// shebang is the interpreter a script's #! line names, or "".
func shebang(prog string) string {
	f, err := os.Open(prog) // #nosec G304 -- reads the #! line of the command the pool was told to start
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	line, _ := bufio.NewReader(f).ReadSlice('\n')
	if !bytes.HasPrefix(line, []byte("#!")) {
		return ""
	}
	if bytes.HasSuffix(line, []byte("\r\n")) {
		return strconv.Quote(strings.TrimSpace(string(line[2:]))+"\r") + " (the line ends with a carriage return: Windows " +
			"line ends)"
	}
	fields := strings.Fields(string(line[2:]))
	if len(fields) == 0 {
		return "(none)"
	}
	return fields[0]
}

// CheckDir returns an error that says why dir cannot be a worker's working
// directory (it does not exist, is not a directory, or cannot be entered),
// naming dir made absolute; nil if it can be.
func CheckDir(dir string) error {
	if why := dirProblem(dir); why != "" {
		return errors.New(why)
	}
	return nil
}
