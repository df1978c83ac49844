# pgfleet: the two commands a new user needs are `make run` and `make test`.
# Every target runs scripts/bootstrap.sh first, which installs what is missing.

BUILD      ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build run demo stop test unit bench lint format clean fuzz deploy-test deploy

all: build

deps:
	@scripts/bootstrap.sh

build: deps
	@scripts/build.sh $(BUILD)

run: build
	@scripts/run.sh $(BUILD)/pgfleet

# the local environment plus a realistic fleet (FLEET_SIZE=small|default|large), pgfleet in
# the background and a narrated tour (DEMO_PACE=normal|step|fast); `make stop` ends it
demo: build
	@scripts/run.sh --demo $(BUILD)/pgfleet

stop:
	@scripts/run.sh --stop

test: deps
	@scripts/test.sh

unit: deps
	@scripts/build.sh $(ASAN_BUILD) -Dsanitize=true && meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

bench: build
	@bench/http/run.sh $(BUILD)/pgfleet
	@bench/discover/run.sh $(BUILD)
	@bench/migrate/run.sh $(BUILD)
	@bench/alerts/run.sh $(BUILD)
	@bench/ui/run.sh $(BUILD)/pgfleet
	@bench/cluster/run.sh $(BUILD)
	@bench/fleet/run.sh $(BUILD)
	@bench/load/run.sh $(BUILD)
	@bench/topology/run.sh $(BUILD)

# the production image against a local environment of its own: smoke suite, non-root,
# read-only, SIGTERM, restart, refusal without authentication (podman or docker)
deploy-test: deps
	@scripts/deploy_test.sh

# to AWS: the image to ECR, then the CloudFormation stack (deploy/aws/pgfleet.yaml; docs/deploy.md)
#   make deploy STACK=pgfleet REGION=eu-west-1 IMAGE_TAG=0.1.0 PARAMS="VpcId=vpc-... ..."
deploy: deps
	@test -n "$(STACK)" -a -n "$(REGION)" -a -n "$(IMAGE_TAG)" || \
	  { echo "usage: make deploy STACK=name REGION=region IMAGE_TAG=tag PARAMS=\"VpcId=... PublicSubnetIds=a,b PrivateSubnetIds=c,d CertificateArn=... PublicUrl=https://...\""; exit 2; }
	@scripts/container.sh build pgfleet:$(IMAGE_TAG)
	@.venv/bin/python scripts/deploy_aws.py --stack "$(STACK)" --region "$(REGION)" --image-tag "$(IMAGE_TAG)" \
	  --image pgfleet:$(IMAGE_TAG) $(foreach p,$(PARAMS),--param "$(p)")

# libFuzzer targets (clang), each for FUZZ_SECONDS (default 60)
fuzz: deps
	@scripts/fuzz.sh

lint: deps
	@scripts/lint.sh

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
