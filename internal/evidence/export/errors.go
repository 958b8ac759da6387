package export

import "errors"

var (
	// ErrEpisodeNotFound reports an episode identifier absent from the
	// events stream.
	ErrEpisodeNotFound = errors.New("export: episode not found")

	// ErrNotYetSigned reports an episode whose records are all newer than
	// the latest signed checkpoint of their segment. While Préau runs it
	// signs a checkpoint every minute it records: export a minute later.
	ErrNotYetSigned = errors.New("export: episode not yet covered by a signed checkpoint")

	// ErrOutNotEmpty reports an output directory that already holds files.
	ErrOutNotEmpty = errors.New("export: output directory is not empty")

	// ErrInvalidOptions reports unusable Options; the message names the
	// field.
	ErrInvalidOptions = errors.New("export: invalid options")
)
