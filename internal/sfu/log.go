package sfu

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs sends pion's logs to slog. Pion's errors are mostly about what
// a client sent (a bad packet, a failed handshake), not faults of the
// node, so they are logged as warnings; its warnings become debug lines;
// its info, debug and trace lines are dropped.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) Trace(string)          {}
func (l pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(string)          {}
func (l pionLogger) Debugf(string, ...any) {}
func (l pionLogger) Info(string)           {}
func (l pionLogger) Infof(string, ...any)  {}
func (l pionLogger) Warn(msg string)       { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.atf(slog.LevelDebug, format, args...)
}
func (l pionLogger) Error(msg string) { l.at(slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.atf(slog.LevelWarn, format, args...)
}

func (l pionLogger) at(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l pionLogger) atf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}
