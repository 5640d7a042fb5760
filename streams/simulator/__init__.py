"""Synthetic world for muleguard: seeded accounts, people, phones, scams, mules and ground truth.

``World(WorldConfig(...)).events()`` yields wire records for the four input topics in
event-time order; ``labels()`` and ``cases()`` are the ground truth; ``sink`` writes them to
a data directory or Kafka; ``report.calibration_report`` compares the world with the brief.
"""

from streams.simulator.calibration import WorldConfig
from streams.simulator.report import calibration_report
from streams.simulator.sink import stream_to_kafka, write_dir
from streams.simulator.world import SimEvent, World

__all__ = ["SimEvent", "World", "WorldConfig", "calibration_report", "stream_to_kafka", "write_dir"]
