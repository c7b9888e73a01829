from setuptools import find_packages, setup

package_name = 'hilserl_common'

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
    description=('Code every package of the workspace shares: validated node parameters, named QoS '
                 'profiles, node start-up and shutdown, image preprocessing.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
        ],
    },
)
