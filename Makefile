# continuity.mail — everyday commands. `make drill` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
PLAYBOOK := ansible-playbook

.PHONY: help venv images lab lab-down drill test lint unit molecule integration build sanity clean

help:
	@echo "make drill     run a continuity drill on the built-in lab (builds it when missing)"
	@echo "make test      lint, unit tests, Molecule scenarios and integration tests"
	@echo "make lab       build the lab image and converge the lab containers"
	@echo "make lab-down  remove every lab container, network and volume"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

images:
	bash lab/build-images.sh

lab: venv images
	$(PLAYBOOK) playbooks/lab_up.yml

lab-down:
	bash lab/down.sh

drill: lab
	$(PLAYBOOK) playbooks/drill.yml

lint: venv
	yamllint -s .
	ansible-lint --profile production

unit: venv
	pytest -q tests/unit

molecule: venv images
	cd molecule && true
	molecule test --all

integration: venv lab
	pytest -q tests/integration

test: lint molecule unit-and-integration

unit-and-integration: venv lab
	pytest -q tests/unit tests/integration

build: venv
	ansible-galaxy collection build --force --output-path tests/output

clean: lab-down
	rm -rf tests/output .pytest_cache
