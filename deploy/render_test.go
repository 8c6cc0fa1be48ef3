package deploy

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

var update = flag.Bool("update", false, "rewrite podman/sessionctl.yaml from the kustomization")

// podmanYAML is what podman plays: the podman kustomization, rendered.
const podmanYAML = "podman/sessionctl.yaml"

// render builds the kustomization in dir as kubectl kustomize does (its
// legacy order: namespaces, volumes and configuration before workloads).
func render(t *testing.T, dir string) []*resource.Resource {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return m.Resources()
}

func yamlOf(t *testing.T, rs []*resource.Resource) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, r := range rs {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes()
}

func find(rs []*resource.Resource, kind, name string) *resource.Resource {
	for _, r := range rs {
		if r.GetKind() == kind && r.GetName() == name {
			return r
		}
	}
	return nil
}

// TestRender: both kustomizations build; the podman rendering checked in
// is what the podman kustomization renders now (go test ./deploy -run
// TestRender -update rewrites it); and the nodes' pods are the same pods
// for both engines: the podman Deployment's template is the StatefulSet's,
// but for what the overlay says podman cannot play.
func TestRender(t *testing.T) {
	base := render(t, "kubernetes")
	pod := render(t, "podman")
	got := []byte("# Rendered from deploy/podman by 'go test ./deploy -run TestRender -update'; do not edit.\n" +
		"# podman kube play --build=false deploy/podman/sessionctl.yaml\n")
	got = append(got, yamlOf(t, pod)...)
	if *update {
		if err := os.WriteFile(podmanYAML, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(podmanYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what deploy/podman renders: run 'go test ./deploy -run TestRender -update' and commit it", podmanYAML)
	}

	for _, want := range []struct{ kind, name string }{
		{"StatefulSet", "sessionctl-node"}, {"Pod", "sessionctl-devnet"}, {"Secret", "sessionctl-join"},
		{"Service", "sessionctl-devnet"}, {"Service", "sessionctl-seed"}, {"Service", "sessionctl-dashboard"}, {"Service", "sessionctl-edge"},
	} {
		if find(base, want.kind, want.name) == nil {
			t.Errorf("deploy/kubernetes has no %s %s", want.kind, want.name)
		}
	}
	for _, r := range pod {
		if k := r.GetKind(); k == "StatefulSet" || k == "Secret" || k == "Service" {
			t.Errorf("the podman rendering has a %s (%s), which podman 4.3 cannot play", k, r.GetName())
		}
	}
	ss, dep := find(base, "StatefulSet", "sessionctl-node"), find(pod, "Deployment", "sessionctl-node")
	if ss == nil || dep == nil {
		t.Fatal("no nodes to compare")
	}
	strip := func(r *resource.Resource) map[string]any {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		spec := m["spec"].(map[string]any)
		tpl := spec["template"].(map[string]any)["spec"].(map[string]any)
		delete(tpl, "volumes")
		c := tpl["containers"].([]any)[0].(map[string]any)
		for _, k := range []string{"startupProbe", "readinessProbe", "livenessProbe", "ports"} {
			delete(c, k)
		}
		for _, e := range c["env"].([]any) {
			if vf, ok := e.(map[string]any)["valueFrom"].(map[string]any); ok {
				for _, ref := range []string{"secretKeyRef", "configMapKeyRef"} {
					if v, ok := vf[ref]; ok {
						delete(vf, ref)
						vf["keyRef"] = v
					}
				}
			}
		}
		return map[string]any{"replicas": spec["replicas"], "selector": spec["selector"], "template": spec["template"]}
	}
	if a, b := strip(ss), strip(dep); !reflect.DeepEqual(a, b) {
		t.Errorf("the nodes' pods differ between engines beyond what podman cannot play:\nkubernetes %v\npodman     %v", a, b)
	}
}
