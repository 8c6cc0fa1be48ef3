package sessionpb

// The generated code is committed. To regenerate it after editing
// session.proto, with protoc-gen-go (go install
// google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11) on PATH and buf
// from the npm registry:
//
//go:generate npx --yes @bufbuild/buf@1.75.0 generate
