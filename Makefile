# Targets a newcomer can guess. The test target is the README's test command.
.PHONY: run demo test test-short lint bench build

build:
	go build -o preau ./cmd/preau

run demo:
	go run ./cmd/preau demo

test:
	./scripts/test.sh

test-short:
	go test -short ./...

lint:
	gofmt -l . && go vet ./...

bench:
	./bench/run.sh
