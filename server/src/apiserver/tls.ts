/**
 * The simulated clusters' certificate authority and the API server's certificate. Kept in `<dataDir>/tls/` when a data
 * directory is given, so kubeconfigs written earlier (which embed the CA) keep working after a restart.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import forge from "node-forge";

export interface TlsMaterial {
  /** PEM of the CA certificate, as embedded in kubeconfigs (`certificate-authority-data`). */
  caCert: string;
  /** PEM of the server certificate (for 127.0.0.1, ::1 and localhost). */
  cert: string;
  /** PEM of the server's private key. */
  key: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function newKeyPair(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.PrivateKey; pem: string } {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const priv = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { publicKey: pub, privateKey: priv, pem: privateKey };
}

function serial(): string {
  // Positive (top bit clear), 16 bytes.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

/** Generates a fresh CA and a server certificate signed by it, valid for ten years. */
export function generateTls(now = Date.now()): TlsMaterial {
  const ca = newKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = new Date(now - 3600_000);
  caCert.validity.notAfter = new Date(now + 10 * YEAR_MS);
  const caName = [{ name: "commonName", value: "egresslab-ca" }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  caCert.sign(ca.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  const srv = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = srv.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now - 3600_000);
  cert.validity.notAfter = new Date(now + 10 * YEAR_MS);
  cert.setSubject([{ name: "commonName", value: "egresslab-apiserver" }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 2, value: "localhost" },
        { type: 2, value: "kubernetes" },
        { type: 2, value: "kubernetes.default" },
        { type: 2, value: "kubernetes.default.svc" },
        { type: 7, ip: "127.0.0.1" },
        { type: 7, ip: "::1" },
      ],
    },
  ]);
  cert.sign(ca.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { caCert: forge.pki.certificateToPem(caCert), cert: forge.pki.certificateToPem(cert), key: srv.pem };
}

const FILES = { caCert: "ca.crt", cert: "apiserver.crt", key: "apiserver.key" } as const;

/** Reads the TLS material from `<dataDir>/tls/`, generating and saving it on first use. Without a dir: fresh material. */
export function loadOrCreateTls(dataDir?: string): TlsMaterial {
  if (!dataDir) return generateTls();
  const dir = path.join(dataDir, "tls");
  const paths = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, path.join(dir, f)])) as Record<
    keyof TlsMaterial,
    string
  >;
  if (Object.values(paths).every((p) => existsSync(p))) {
    return {
      caCert: readFileSync(paths.caCert, "utf8"),
      cert: readFileSync(paths.cert, "utf8"),
      key: readFileSync(paths.key, "utf8"),
    };
  }
  const tls = generateTls();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const k of Object.keys(FILES) as (keyof TlsMaterial)[]) {
    const tmp = `${paths[k]}.tmp-${process.pid}`;
    writeFileSync(tmp, tls[k], { mode: k === "key" ? 0o600 : 0o644 });
    renameSync(tmp, paths[k]);
  }
  return tls;
}
