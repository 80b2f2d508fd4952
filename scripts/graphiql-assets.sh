#!/usr/bin/env bash
# Fills a directory with GraphiQL's browser builds, for
# `tracking --graphiql-assets DIR` (GraphiQL without internet):
#
#   scripts/graphiql-assets.sh /srv/tracking/graphiql
#
# Takes them from the npm registry with `npm pack` (which checks each
# package's integrity), at the exact versions the service's page names:
# GraphiQL 4 and React 18, the last majors that ship builds a browser loads
# as they are (GraphiQL 5 and React 19 ship only modules for bundlers).
# Needs npm and tar; run it where the registry is reachable, then copy the
# directory wherever the service runs.
set -euo pipefail

dir=${1:?usage: scripts/graphiql-assets.sh DIR}
graphiql=4.1.2
react=18.3.1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"

fetch() { # package version → the unpacked package's directory
  local name=$1 version=$2
  mkdir -p "$work/$name"
  (cd "$work/$name" && npm pack --silent "$name@$version" >/dev/null)
  tar -xzf "$work/$name"/*.tgz -C "$work/$name"
  echo "$work/$name/package"
}

graphiql_dir=$(fetch graphiql "$graphiql")
react_dir=$(fetch react "$react")
react_dom_dir=$(fetch react-dom "$react")

cp "$graphiql_dir/graphiql.min.js" "$graphiql_dir/graphiql.min.css" "$dir/"
cp "$react_dir/umd/react.production.min.js" "$dir/"
cp "$react_dom_dir/umd/react-dom.production.min.js" "$dir/"
echo "GraphiQL $graphiql and React $react in $dir: start the service with --graphiql-assets $dir"
