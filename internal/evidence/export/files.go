package export

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// File names inside a package.
const (
	fileReadmeFR    = "README.fr.md"
	fileReadmeEN    = "README.en.md"
	fileMetadata    = "metadata.json"
	fileEntries     = "entries.jsonl"
	fileLeaves      = "leaves.jsonl"
	fileProofs      = "proofs.jsonl"
	dirCheckpoints  = "checkpoints"
	fileVerifierKey = "checkpoints/verifier.key"
	fileEpisodesCSV = "episodes.csv"
	fileSourcesCSV  = "sources.csv"
	fileSTIX        = "stix-bundle.json"
	fileReport      = "report.html"
	fileSignerPEM   = "signer.pem"
	fileManifest    = "MANIFEST.sha256"
	fileManifestSig = "MANIFEST.sha256.sig"
)

// checkpointFile is the package path of a segment's checkpoint.
func checkpointFile(stream, seg string) string {
	return dirCheckpoints + "/" + label(stream, seg) + ".txt"
}

// outFile is a package file being written through a buffer.
type outFile struct {
	f *os.File
	*bufio.Writer
}

func createFile(root, rel string) (*outFile, error) {
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &outFile{f: f, Writer: bufio.NewWriterSize(f, 256<<10)}, nil
}

// Close flushes, fsyncs and closes the file.
func (o *outFile) Close() error {
	err := o.Flush()
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: write %s: %w", o.f.Name(), err)
	}
	return nil
}

// abort closes the file after a failure elsewhere.
func (o *outFile) abort() { o.f.Close() }

func writeFile(root, rel string, data []byte) error {
	f, err := createFile(root, rel)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.abort()
		return fmt.Errorf("export: write %s: %w", rel, err)
	}
	return f.Close()
}
