from setuptools import find_packages, setup

package_name = 'so101_driver'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='SO-101 HIL-SERL maintainers',
    maintainer_email='maintainers@so101-hilserl.org',
    description=('SO-101 follower and leader drivers over the Feetech bus, the wrist camera, and '
                 'an emulated STS3215 bus for tests.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'follower = so101_driver.follower.node:main',
            'leader = so101_driver.leader.node:main',
            'camera = so101_driver.camera.node:main',
        ],
    },
)
