# continuity.mail — everyday commands. `make drill` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
PLAYBOOK := ansible-playbook
# Debian release of the lab (make lab / drill / test): bookworm (Postfix 3.7, Dovecot 2.3),
# trixie (Postfix 3.10, Dovecot 2.4) or mixed (primary on bookworm, secondary on trixie).
LAB_RELEASE ?= bookworm
export LAB_RELEASE

.PHONY: help venv images lab lab-down drill smoke test lint unit molecule integration build clean outage restore mixed

# System packages (Debian/Ubuntu) each target needs: installed when run as root, otherwise
# named in one line with the command to run. Runs before anything is built.
host-%:
	@bash tools/host-packages.sh $*

help:
	@echo "make drill     full continuity drill on the built-in lab (builds it when missing)"
	@echo "make smoke     non-disruptive drill (preflight, health, canary, recipient drift)"
	@echo "make test      lint, unit tests, Molecule scenarios and integration tests"
	@echo "make lab       build the lab image and converge the lab containers"
	@echo "               (LAB_RELEASE=bookworm|trixie|mixed for drill, lab and test; default bookworm)"
	@echo "make lab-down  remove every lab container, network and volume"
	@echo "make mixed     full drill + TLS sync tests on LAB_RELEASE=mixed (Dovecot 2.3 and 2.4)"
	@echo "make docs      build the collection docsite into docs/build/"
	@echo "make bench     run every benchmark and rewrite docs/benchmarks.md with plots"

venv: host-venv $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

images: host-lab
	bash lab/build-images.sh

lab: venv images
	$(PLAYBOOK) playbooks/lab_up.yml

lab-down:
	bash lab/down.sh

# Lab outages: KIND=refused|blackhole|tempfail|slow|disk-full, TARGET=mx1 (default).
outage: venv
	$(PLAYBOOK) playbooks/outage.yml -e outage_action=inject -e outage_kind=$(KIND) $(if $(TARGET),-e outage_target=$(TARGET))

restore: venv
	$(PLAYBOOK) playbooks/outage.yml -e outage_action=restore $(if $(TARGET),-e outage_target=$(TARGET))

# The full drill on the lab: a real outage (OUTAGE=blackhole by default; refused, tempfail,
# slow, disk-full) with traffic from the internet sender, failover, failback, reconciliation.
# Prints RTO and sent/received/lost/duplicated; exits non-zero if anything was lost.
OUTAGE ?= blackhole
drill: lab
	$(PLAYBOOK) playbooks/drill.yml -e mode=full -e outage=$(OUTAGE)

# The scheduled, non-disruptive drill: preflight, health, canary, recipient drift.
smoke: lab
	$(PLAYBOOK) playbooks/drill.yml -e mode=non_disruptive

lint: venv
	ruff check .
	ruff format --check .
	yamllint -s .
	ansible-lint --profile production
	antsibull-changelog lint
	bash tools/docs.sh lint
	bash tests/sanity.sh

unit: venv
	pytest -q tests/unit

# Molecule scenarios: the lab topology (destroy, create, converge, idempotence, real-mail
# verify), then the continuity cycle (full drills per outage kind, failover idempotence).
# They leave the lab running so the integration tests below reuse it.
molecule: venv images
	molecule test --scenario-name default
	molecule test --scenario-name continuity

integration: host-bench-dns host-bench-health venv lab
	pytest -q tests/integration

# A site halfway through its upgrade: one full drill on LAB_RELEASE=mixed (mx1 Debian 12 /
# Dovecot 2.3, mx2 Debian 13 / Dovecot 2.4) and the TLS sync tests in both directions across
# the two versions (about 15 minutes; not part of `make test` yet, which must fit CI's time).
mixed: venv
	$(MAKE) drill LAB_RELEASE=mixed
	LAB_RELEASE=mixed pytest -q -p no:cacheprovider tests/integration/test_mailbox_sync_tls.py

# Everything CI runs. pytest comes last so its summary is the last test-runner line.
test: host-test host-bench-dns host-bench-health lint build molecule
	pytest --durations=30 tests/unit tests/integration

build: venv
	ansible-galaxy collection build --force --output-path tests/output

# The collection docsite (antsibull-docs + Sphinx) into docs/build/ (git-ignored);
# open docs/build/build/html/index.html.
.PHONY: docs
docs: venv
	bash tools/docs.sh build

clean: lab-down
	rm -rf tests/output .pytest_cache

# Every benchmark (DNS, health, failover RTO, mailbox sync), then the generated part of
# docs/benchmarks.md (machine facts, commands, medians, ratios) and the plots in
# docs/benchmarks/. About 30 minutes; `bench/run_all.py --only dns` for one.
.PHONY: bench
bench: host-bench-dns host-bench-health lab
	$(VENV)/bin/python bench/run_all.py

# DNS engine benchmark (docs/benchmarks.md): mx_switch vs community.general.nsupdate vs the
# nsupdate CLI on 10/100/1000 zones of a dedicated BIND container (needs bind9-dnsutils).
.PHONY: bench-dns
bench-dns: host-bench-dns venv
	cd bench/dns && $(CURDIR)/$(VENV)/bin/python run_bench.py

# Health benchmark (docs/benchmarks.md): mail_health vs a wait_for loop vs check_smtp/check_imap
# at 50/200/500 endpoints of a dedicated Postfix/Dovecot container (needs monitoring-plugins-basic
# and monitoring-plugins-standard on the host).
.PHONY: bench-health
bench-health: host-bench-health venv
	$(VENV)/bin/python bench/health/run.py

# Failover benchmark (docs/benchmarks.md): RTO per outage kind vs plain backup-MX fallback.
.PHONY: bench-failover
bench-failover: lab
	$(VENV)/bin/python bench/failover/run.py

# Mailbox sync benchmark (docs/benchmarks.md): mailbox_sync (proof included) vs mbsync vs a
# doveadm sync loop, full (100 users x 100 messages) and delta (+10 each), two containers from
# the lab image (mbsync is installed inside them, not on the host).
.PHONY: bench-mailbox-sync
bench-mailbox-sync: images venv
	$(VENV)/bin/python bench/mailbox_sync/run.py
