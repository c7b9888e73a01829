from setuptools import find_packages, setup

package_name = 'hilserl_testing'

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
    description=("Test support shared by the packages' tests and the benchmarks: a probe node, "
                 "private ROS domains, stopping node processes, a headless browser on the "
                 "console's page."),
    license='Apache-2.0',
)
