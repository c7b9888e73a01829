from glob import glob

from setuptools import find_packages, setup

package_name = 'hilserl_bringup'

# launch/ and config/ are the workspace's top-level folders (symlinked here) so users find
# them at the root; they are installed into this package's share directory.
setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
        ('share/' + package_name + '/config/rviz', glob('config/rviz/*.rviz')),
        ('share/' + package_name + '/config/rqt', glob('config/rqt/*')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='SO-101 HIL-SERL maintainers',
    maintainer_email='maintainers@so101-hilserl.org',
    description='Launch files, the node-graph description, the runner for machines without ROS, '
                'configuration and monitoring set-ups of the SO-101 HIL-SERL workspace.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'run_graph = hilserl_bringup.runner:main',
            'workspace_markers = hilserl_bringup.monitoring.markers_node:main',
        ],
    },
)
