// How Envoy's HTTP connection manager writes an x-forwarded-client-cert element for the client
// certificate of a connection (conn_manager_utility.cc, mutateXfccRequestHeader): `By=` (this proxy's
// own URI SAN) when it has one, `Hash=`, then the details set_current_client_cert_details enables,
// in Envoy's fixed order. Cert (URL-encoded PEM) and Subject are quoted; By, Hash, URI and DNS are
// written raw, unescaped — a SAN holding `,` `;` or `"` changes how the header reads. `URI=` is
// written (empty) even without a URI SAN, one `URI=` and one `DNS=` per SAN. The differential tests
// hold this against what real Envoy writes.
import type { PeerCertificate } from './connection.js';

export interface XfccDetails {
  subject?: boolean;
  cert?: boolean;
  uri?: boolean;
  dns?: boolean;
  /** The URI SAN of this proxy's own certificate, written as `By=`. */
  by?: string;
}

/** What an Istio ingress gateway writes (set_current_client_cert_details: Subject, Cert, URI, DNS). */
export const GATEWAY_DETAILS: XfccDetails = { subject: true, cert: true, uri: true, dns: true };
/** What an Istio sidecar appends (Subject, URI, DNS: no Cert). */
export const SIDECAR_DETAILS: XfccDetails = { subject: true, uri: true, dns: true };

export function xfccElement(peer: Pick<PeerCertificate, 'sha256' | 'subject' | 'uriSans' | 'dnsSans' | 'pem'>, details: XfccDetails = GATEWAY_DETAILS): string {
  const parts: string[] = [];
  if (details.by) parts.push(`By=${details.by}`);
  parts.push(`Hash=${peer.sha256}`);
  if (details.cert && peer.pem) parts.push(`Cert="${encodeURIComponent(peer.pem)}"`);
  if (details.subject) parts.push(`Subject="${peer.subject}"`);
  if (details.uri) {
    const uris = peer.uriSans ?? [];
    if (uris.length === 0) parts.push('URI=');
    for (const uri of uris) parts.push(`URI=${uri}`);
  }
  if (details.dns) for (const dns of peer.dnsSans ?? []) parts.push(`DNS=${dns}`);
  return parts.join(';');
}
