#!/bin/sh
# Entrypoint of the custom image: copies the n8n-nodes-faseeh baked into the image into n8n's
# community-package folder, then starts n8n the way the official image does.
#
# Why at every start, not at build time: n8n loads community packages only from
# <user folder>/.n8n/nodes/node_modules, and the user folder (/home/node/.n8n) is normally a volume,
# which hides whatever the image has at that path (Docker copies it into a named volume only when
# the volume is new, never into a bind mount or an existing volume). Copying at start also replaces
# the copy an older image left in the volume, so a new image always runs its own version.
set -eu
src="${FASEEH_PACKAGE_DIR:-/opt/n8n-nodes-faseeh}"
nodes="${N8N_USER_FOLDER:-$HOME}/.n8n/nodes/node_modules"
mkdir -p "$nodes"
rm -rf "$nodes/n8n-nodes-faseeh"
cp -R "$src" "$nodes/n8n-nodes-faseeh"
exec "${FASEEH_NEXT_ENTRYPOINT:-/docker-entrypoint.sh}" "$@"
