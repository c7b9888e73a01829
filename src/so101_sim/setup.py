from setuptools import find_packages, setup

package_name = 'so101_sim'

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
    description=('The MuJoCo simulation of the SO-101 grasp cell behind the driver topics, the '
                 'simulated operator, and scripted simulated episodes.'),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'sim = so101_sim.node:main',
            'operator = so101_sim.operator_node:main',
        ],
    },
)
