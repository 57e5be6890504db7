/**
 * Generated Kubernetes manifests for `lbctl apply` at scale: N LoadBalancer Services on one VIP (ports
 * from `firstPort` on), each with an EndpointSlice of its backends. Used by the control-plane benchmark
 * and the crash-convergence test, which need hundreds of services without hand-written YAML.
 */
export interface ManyServicesOptions {
  count: number;
  vip: string;
  /** Service i (counting from `firstIndex`) listens on firstPort + i. */
  firstPort: number;
  /** Number of the first Service (default 0): chunks of one numbering can be generated apart. */
  firstIndex?: number;
  /** Backend addresses; service i gets backends[i % length] (and the next one when `backendsEach` is 2). */
  backends: readonly string[];
  backendsEach?: number;
  /** Prefix of the Service names ("svc" gives svc-0, svc-1, ...). */
  namePrefix?: string;
  mode?: 'fullnat' | 'dnat';
}

export function manyServicesManifest(opts: ManyServicesOptions): string {
  const docs: string[] = [];
  const each = opts.backendsEach ?? 1;
  const prefix = opts.namePrefix ?? 'svc';
  const first = opts.firstIndex ?? 0;
  for (let i = first; i < first + opts.count; i++) {
    const name = `${prefix}-${i}`;
    const addresses = Array.from(
      { length: each },
      (_, j) => opts.backends[(i + j) % opts.backends.length] as string,
    );
    docs.push(`apiVersion: v1
kind: Service
metadata:
  name: ${name}
  annotations:
    loxilb.io/lbmode: "${opts.mode ?? 'fullnat'}"
    loxilb.io/useproxyprotov2: "yes"
    lbctl.io/vip: "${opts.vip}"
spec:
  loadBalancerClass: loxilb.io/loxilb
  ports:
    - port: ${opts.firstPort + i}
      targetPort: 80
  type: LoadBalancer
---
${endpointSliceYaml(name, `${name}-eps`, addresses)}`);
  }
  // An empty input is one empty document: apply reads it as "no services".
  return docs.length > 0 ? docs.join('---\n') : '---\n';
}

/** The EndpointSlice document of Service `service`: its ready IPv4 backends, port 80. */
export function endpointSliceYaml(service: string, sliceName: string, addresses: readonly string[]): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${sliceName}
  labels:
    kubernetes.io/service-name: ${service}
addressType: IPv4
ports:
  - name: ""
    port: 80
    protocol: TCP
endpoints:
${addresses.map((a) => `  - addresses: ["${a}"]\n    conditions: {ready: true}`).join('\n')}
`;
}
