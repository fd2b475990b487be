"""The jobs area of the contract: who may follow a job of the store API.

A job is long work the store API server runs in the background for one client (an import's dry run
or apply, an export, a report run or export): ``POST`` answers 202 with the job, ``GET /v1/jobs/{id}``
reports its progress, its result is JSON and/or a file. The server keeps the jobs; what the contract
decides is who may see one: the user who started it, or an admin (anyone else is told it does not
exist). Each method answers for one thing a client does with a job.
"""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.operations.permissions import Role

__all__ = ["JobOperations"]


class JobOperations(Area):
    def status(self, owner_id: int) -> bool:
        """Whether the acting user may follow (state, progress, result) a job started by user ``owner_id``."""
        return self._may_see(owner_id)

    def result(self, owner_id: int) -> bool:
        """Whether the acting user may download the result file of a job started by user ``owner_id``."""
        return self._may_see(owner_id)

    def cancel(self, owner_id: int) -> bool:
        """Whether the acting user may cancel (or, once finished, forget) a job started by ``owner_id``."""
        return self._may_see(owner_id)

    def _may_see(self, owner_id: int) -> bool:
        actor = self._actor
        return actor.role is Role.ADMIN or actor.user_id == owner_id
