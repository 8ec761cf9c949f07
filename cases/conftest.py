import os

from hypothesis import settings

from parity.profiles import register_pytest_profiles

register_pytest_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
