"""A real browser on the console's page: Debian's headless Chromium driven through selenium
(scripts/setup installs chromium, chromium-driver and selenium), for the tests and the benchmark.
"""
import shutil


class NoBrowser(RuntimeError):
    """Chromium, chromedriver or selenium is missing: the message says how to get them."""


def headless_chromium():
    """A selenium WebDriver of headless Chromium; NoBrowser names what is missing."""
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    driver_path = shutil.which('chromedriver')
    if not chromium or not driver_path:
        raise NoBrowser('no chromium/chromedriver on the PATH: run scripts/setup (it installs '
                        "Debian's chromium and chromium-driver) to drive the console's page")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise NoBrowser('selenium is not installed: run scripts/setup (requirements.txt pins '
                        'it)') from None
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--window-size=1400,1100'):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver_path), options=options)
