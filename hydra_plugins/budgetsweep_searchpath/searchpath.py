"""Makes budgetsweep's config groups (``reduction``, ``hydra/sweeper=budget``, ...) visible to every
Hydra app, so a user's own primary config can list ``reduction: [data_subset, short_schedule]`` in
its defaults without copying our configs. Appended last: the user's own groups win on a clash."""
from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class BudgetsweepSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="budgetsweep", path="pkg://budgetsweep.conf")
