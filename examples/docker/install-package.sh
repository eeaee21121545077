#!/bin/sh
# Installs a packed n8n-nodes-faseeh (its .tgz) into a folder the way n8n's own community-package
# installer does: the package's files, its dev, peer and optional dependencies dropped (n8n-workflow
# comes from n8n itself), and its runtime dependencies (form-data and the two WebAssembly audio
# encoders: nothing is compiled) installed into its own node_modules.
#
#   sh install-package.sh n8n-nodes-faseeh-<version>.tgz /opt/n8n-nodes-faseeh
#
# Used by the Dockerfile next to it; the end-to-end suite runs this same file on a plain folder.
set -eu
tarball="$1"
dest="$2"
work="$(mktemp -d)"
tar -xzf "$tarball" -C "$work"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/package" "$dest"
rmdir "$work"
cd "$dest"
node -e '
const fs = require("fs");
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
for (const key of ["devDependencies", "peerDependencies", "optionalDependencies"]) delete pkg[key];
fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2));
'
npm install --omit=dev --ignore-scripts --no-audit --no-fund --package-lock=false --bin-links=false --install-strategy=shallow
