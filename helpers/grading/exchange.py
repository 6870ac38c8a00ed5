"""nbgrader's filesystem exchange, with one check made binding: a submission belongs to the account that owns it.

Students submit by writing a folder named ``<student>+<assignment>+<timestamp>+<random>`` into the exchange's
``inbound/``, which every student may write to. Plain ``nbgrader collect`` compares the name with the folder's Unix
owner, but only warns and collects it anyway, so one student can hand in work, or a later, worse version, in
another's name. Here such a folder is not collected: the error names it, and the student it names keeps their own
latest submission. ``nbgrader_config.py`` selects this class (``ExchangeFactory.collect``).
"""

import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect


def _owner(path):
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except KeyError:
        return None


class OwnerCheckedCollect(ExchangeCollect):
    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        owner = _owner(path)
        if owner != record["username"]:
            self.log.error(
                "Not collected: %s names student %s but belongs to %s.", path, record["username"], owner
            )
            record["username"] = None  # its own group below, so it never hides the named student's own work
        return record

    def init_src(self):
        super().init_src()
        self.src_records = [record for record in self.src_records if record["username"] is not None]
