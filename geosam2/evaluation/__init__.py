"""Evaluation: class-agnostic mIoU (`metrics`), ground-truth and prediction readers
(`readers`), a simulated user (`prompts`), the benchmark runner (`runner`) and its
reports (`report`). Import the sub-modules directly."""
