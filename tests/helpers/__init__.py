"""Modules the tests share, not tests themselves: `graphs` (run scripted code
through the profiling executor and inspect its plans), `programs` (source
programs, copies and bit-exact comparison for the reliability tests), and the
scripts some tests run in a fresh process (aot_consumer.py,
one_state_check.py, reset_plans_race.py). tests/conftest.py puts tests/ on
sys.path, so tests import them as `helpers.<module>`."""
