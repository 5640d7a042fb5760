import pytest
from reliability_helpers import Producer, check_outcome, settle_group

pytestmark = pytest.mark.integration

def test_control(fault_broker, workers, scenario, expected):
    bootstrap = fault_broker.bootstrap
    worker = workers.start("w1")
    producer = Producer(bootstrap)
    for phase in scenario.phases:
        producer.send(phase, rate=400)
        settle_group(bootstrap, "muleguard", dict(producer.ends), alive=worker.alive)
    check_outcome(bootstrap, "muleguard", expected)
