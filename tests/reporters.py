"""A reporter for calling the trainer directly in tests: it keeps what the loop reports."""


class RecordingReporter:
    def __init__(self):
        self.rows, self.examples, self.flops = [], 0, 0.0

    def add_cost(self, examples=0, flops=0.0):
        self.examples += examples
        self.flops += flops

    def report(self, step, metrics):
        self.rows.append((step, dict(metrics)))

    @property
    def reports(self):
        return self.rows
