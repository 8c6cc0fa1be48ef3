// Package deploy holds what runs sessionctl on an existing engine: the
// Kubernetes manifests (kubernetes/, for kubectl apply -k) and their
// rendering for podman (podman/sessionctl.yaml, for podman kube play),
// with the tests that keep them true: TestRender renders the kustomizations
// and checks the rendering checked in, TestPodman builds the image
// (../Containerfile) and plays the rendering in podman.
//
// It has no code of its own: everything runs the sessionctl binary.
package deploy
