# civicwall: two entry points for people (run, test) and a few for maintainers.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast screenshot bench bench-serve bench-manager bench-newsroom bench-import bench-ingest bench-rebuild bench-freshness bench-screens bench-soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## make run: embedded Redis (unless REDIS_URL is set), aggregator, Jiaozuo demo feed, wall on :8050
run: $(STAMP)
	$(BIN)/civicwall run

## make test: the whole suite (browser tests need chromium + chromium-driver; .ci/run installs them)
test: $(STAMP)
	$(BIN)/pytest --headless $(PYTEST_ARGS)

## make test-fast: everything except the browser and multi-process tests
test-fast: $(STAMP)
	$(BIN)/pytest -m "not browser and not slow" $(PYTEST_ARGS)

## make screenshot: regenerate the README's pictures (simulated afternoons in Jiaozuo and New York,
## headless Chromium): docs/screenshot-wall-zh.png, docs/screenshot-wall-en.png, docs/screenshot-manager.png,
## docs/screenshot-newsroom.png (eight days of history, so surges have a usual level), docs/screenshot-tiles.png
## (the message-board data imported into a profile without boundary files: a tile map)
screenshot: $(STAMP)
	$(BIN)/python scripts/screenshot.py --self-contained --profile jiaozuo --at 15:30 -o docs/screenshot-wall-zh.png
	$(BIN)/python scripts/screenshot.py --self-contained --profile nyc --at 15:30 -o docs/screenshot-wall-en.png
	$(BIN)/python scripts/screenshot.py --self-contained --page manager --query league_by=district --profile jiaozuo --at 15:30 -o docs/screenshot-manager.png
	$(BIN)/python scripts/screenshot.py --self-contained --page newsroom --query limit=6 --history-hours 192 --profile jiaozuo --at 15:30 -o docs/screenshot-newsroom.png
	$(BIN)/python scripts/screenshot.py --self-contained --profile examples/profiles/xidi-a.toml --view districts --clock 2018-08-29T20:00 --import examples/mappings/taidi2020-replies.toml ../shared/data/cn_gov_messages/taidi2020_att4_messages_with_replies.csv -o docs/screenshot-tiles.png

## make bench: every benchmark below but the soak, one after the other (about 25 minutes; figures and ratios)
bench: bench-serve bench-manager bench-newsroom bench-import bench-ingest bench-rebuild bench-freshness bench-screens

## make bench-serve: one refresh's server time against history size, beside the textbook pandas refresh
bench-serve: $(STAMP)
	$(BIN)/python bench/serve_cost.py

## make bench-manager: one manager page refresh against the appeals a web worker holds (10k to 1M)
bench-manager: $(STAMP)
	$(BIN)/python bench/manager_cost.py

## make bench-newsroom: one newsroom page refresh against the appeals a web worker holds (10k to 300k)
bench-newsroom: $(STAMP)
	$(BIN)/python bench/newsroom_cost.py

## make bench-import: rows/s civicwall import reads and checks, and events/s it writes (100k and 500k rows)
bench-import: $(STAMP)
	$(BIN)/python bench/import_speed.py

## make bench-ingest: events/s the aggregator applies, against a bare consumer of the same stream
bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

## make bench-rebuild: the state for 10 million events rebuilt from the stream (about 10 minutes)
bench-rebuild: $(STAMP)
	$(BIN)/python bench/rebuild.py

## make bench-freshness: XADD to the changed figure in headless Chromium, push and polling
bench-freshness: $(STAMP)
	$(BIN)/python bench/freshness.py

## make bench-screens: 500 pushed wall screens against gunicorn while 100 events/s arrive (60 s)
bench-screens: $(STAMP)
	$(BIN)/python bench/screens_load.py

## make bench-soak: a wall in headless Chromium for 35 minutes at ten times the simulated event rate;
## JS heap, DOM nodes and listeners over time, and their growth after the first five minutes
bench-soak: $(STAMP)
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .run
