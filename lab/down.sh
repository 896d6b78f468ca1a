#!/usr/bin/env bash
# Remove exactly what the lab created: every container, network and volume carrying the
# lab label. Images are kept (they are rebuilt only when lab/ changes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/common.sh
. "$here/common.sh"

lab_require_docker
containers=$(docker ps -aq --filter "label=$LAB_LABEL")
[ -z "$containers" ] || docker rm -f -v $containers >/dev/null
# The lab network by label, and by its own name (a network made by an older lab playbook
# may lack the label).
networks=$( (docker network ls -q --filter "label=$LAB_LABEL"; docker network ls -q --filter "name=^${LAB_NETWORK}\$") | sort -u)
[ -z "$networks" ] || docker network rm $networks >/dev/null
volumes=$(docker volume ls -q --filter "label=$LAB_LABEL")
[ -z "$volumes" ] || docker volume rm $volumes >/dev/null
left=$( (docker ps -aq --filter "label=$LAB_LABEL"; docker network ls -q --filter "label=$LAB_LABEL"; \
         docker volume ls -q --filter "label=$LAB_LABEL") | wc -l)
[ "$left" -eq 0 ] || lab_die "$left lab object(s) could not be removed"
echo "lab: removed $(echo $containers | wc -w) container(s), $(echo $networks | wc -w) network(s), $(echo $volumes | wc -w) volume(s)"
