"""``python -m chaosbench.sut``. gevent's monkey-patching must come before every other import."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from chaosbench.sut.main import main  # noqa: E402

sys.exit(main())
