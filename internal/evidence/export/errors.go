package export

import "errors"

var (
	// ErrEpisodeNotFound reports an episode identifier absent from the
	// events stream.
	ErrEpisodeNotFound = errors.New("export: episode not found")

	// ErrOutNotEmpty reports an output directory that already holds files.
	ErrOutNotEmpty = errors.New("export: output directory is not empty")

	// ErrInvalidOptions reports unusable Options; the message names the
	// field.
	ErrInvalidOptions = errors.New("export: invalid options")
)
